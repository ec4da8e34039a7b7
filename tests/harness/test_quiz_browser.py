"""The chapter quizzes and the progress page in Chromium (docs/assets/quiz.js).

A reader answers a question wrong, then right, and sees the feedback and the
explanation; the score is stored; the chapter is marked complete; the
progress page shows both, after a reload too; reset (two clicks) clears
them. The quiz works with the keyboard, survives Material's instant
navigation without binding twice, reads on a phone, and without JavaScript
still shows the questions with their explanations folded away.

The fixtures (`browser`, `site_url`, and `built_site` from conftest.py) and
the `Visit` helper are the ones of tests/test_browser.py.
"""

from __future__ import annotations

import json
import re

import pytest

from harness.browsing import VIEWPORTS, Visit

CHAPTER = "gans"
# the key, as quiz.js makes it: one per site, by the site's path
KEY = """'genai-course:progress:' + new URL(JSON.parse(
    document.getElementById('__config').textContent).base, location.href).pathname"""


def stored(page):
    raw = page.evaluate(f"localStorage.getItem({KEY})")
    return json.loads(raw) if raw else None


def question(page, number):
    return page.locator(f".quiz[data-chapter='{CHAPTER}'] .quiz-question").nth(number)


def choose(q, correct):
    selector = "label.quiz-choice"
    labels = q.locator(selector)
    for i in range(labels.count()):
        is_right = labels.nth(i).locator("input").evaluate("i => i.correct === true")
        if is_right == correct:
            labels.nth(i).click()
            return labels.nth(i)
    raise AssertionError("no such answer")


def test_quiz_score_completion_and_progress_persist(browser, site_url):
    with Visit(browser, site_url, f"{CHAPTER}/quiz/") as visit:
        page = visit.page
        q = question(page, 0)
        assert q.locator("input[type=radio]").count() >= 3, "the answers did not become radio buttons"
        explanation = q.locator("details.quiz-explanation")
        assert explanation.count() == 1 and not explanation.evaluate("d => d.open")
        feedback = q.locator(".quiz-feedback")
        assert feedback.get_attribute("aria-live") == "polite"

        # Check without choosing, then a wrong answer, then the right one.
        q.get_by_role("button", name="Check").click()
        assert "Choose an answer" in feedback.text_content()
        wrong = choose(q, correct=False)
        q.get_by_role("button", name="Check").click()
        assert "Not quite" in feedback.text_content()
        assert "quiz-choice--wrong" in wrong.get_attribute("class")
        assert not explanation.evaluate("d => d.open"), "a wrong answer must not give the answer away"
        right = choose(q, correct=True)
        q.get_by_role("button", name="Check").click()
        assert "Correct" in feedback.text_content()
        assert "quiz-choice--right" in right.get_attribute("class")
        assert explanation.evaluate("d => d.open")
        assert explanation.locator("a[href]").first.is_visible(), "the explanation links to the section"

        data = stored(page)
        assert data["version"] == 1
        quiz = data["chapters"][CHAPTER]["quiz"]
        assert quiz["total"] == question(page, 0).page.locator(".quiz-question").count()
        assert list(quiz["answers"].values()) == [{"first": False, "solved": True, "tries": 2}]
        score = page.locator(".quiz-score")
        assert re.search(r"\b0 of 1 answer right at the first try", score.text_content())

        # The second question, right at the first try, with the keyboard only.
        q2 = question(page, 1)
        q2.locator("input[type=radio]").first.focus()
        index = q2.locator("input[type=radio]").evaluate_all(
            "inputs => inputs.findIndex(i => i.correct)")
        page.keyboard.press("Space")
        for _ in range(index):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Check"
        page.keyboard.press("Enter")
        assert "Correct" in q2.locator(".quiz-feedback").text_content()
        assert re.search(r"\b1 of 2 answers right at the first try", score.text_content())

        # Mark the chapter complete: a toggle button that shows its state.
        button = page.get_by_role("button", name="Mark this chapter complete")
        assert button.count() == 1 and button.get_attribute("aria-pressed") == "false"
        button.click()
        assert button.get_attribute("aria-pressed") == "true"
        assert "marked this chapter complete" in page.locator(".chapter-complete__status").text_content()
        assert stored(page)["chapters"][CHAPTER]["complete"] is True

        # A reload restores the quiz page as the reader left it.
        page.reload(wait_until="networkidle")
        assert "Correct" not in question(page, 0).locator(".quiz-feedback").text_content()
        assert "after a wrong try" in question(page, 0).locator(".quiz-feedback").text_content()
        assert question(page, 0).locator("details").evaluate("d => d.open")
        assert "at the first try" in question(page, 1).locator(".quiz-feedback").text_content()
        assert page.get_by_role("button", name="Mark this chapter complete").get_attribute(
            "aria-pressed") == "true"

        # The progress page, then again after a reload.
        page.goto(f"{site_url}/progress/", wait_until="networkidle")
        for _ in range(2):
            chapters = page.locator(".course-progress__chapter")
            assert chapters.count() >= 6
            gans = page.locator(f".course-progress__chapter[data-chapter='{CHAPTER}']")
            assert "Complete" in gans.locator(".course-progress__state").text_content()
            assert re.search(r"1 of 2 answers right at the first try",
                             gans.locator(".course-progress__quiz").text_content())
            other = page.locator(".course-progress__chapter[data-chapter='diffusion']")
            assert "Not complete" in other.text_content() and "not started" in other.text_content()
            assert "You have completed 1 of" in page.locator(".course-progress__summary").text_content()
            page.reload(wait_until="networkidle")

        # Reset asks for a second click, then erases everything.
        reset = page.locator(".course-progress__reset")
        reset.click()
        assert "again" in reset.text_content()
        assert stored(page) is not None, "one click must not erase anything"
        reset.click()
        assert stored(page) is None
        assert "erased" in page.locator(".course-progress__summary").text_content()
        gans = page.locator(f".course-progress__chapter[data-chapter='{CHAPTER}']")
        assert "Not complete" in gans.text_content() and "not started" in gans.text_content()
        page.reload(wait_until="networkidle")
        assert "You have completed 0 of" in page.locator(".course-progress__summary").text_content()

        assert not visit.errors, f"console errors: {visit.errors}"
        assert not visit.foreign, f"requests to other hosts: {visit.foreign}"


def test_start_again_keeps_the_best_round(browser, site_url):
    with Visit(browser, site_url, f"{CHAPTER}/quiz/") as visit:
        page = visit.page
        questions = page.locator(".quiz-question")
        for i in range(questions.count()):
            choose(questions.nth(i), correct=(i != 0))
            questions.nth(i).get_by_role("button", name="Check").click()
        total = questions.count()
        best = stored(page)["chapters"][CHAPTER]["quiz"]["best"]
        assert best == {"correct": total - 1, "total": total}
        page.get_by_role("button", name="Start the quiz again").click()
        assert stored(page)["chapters"][CHAPTER]["quiz"]["answers"] == {}
        assert page.locator(".quiz-choice--right").count() == 0
        assert f"Best full round: {total - 1} of {total}" in page.locator(".quiz-score").text_content()
        assert not visit.errors, f"console errors: {visit.errors}"


def test_the_key_names_the_site_and_odd_stored_data_counts_as_absent(browser, site_url):
    """Sites under one github.io user share one localStorage: the key holds
    this site's path. What the course did not write (a null answer, a best
    round that is a string) is ignored, and saving goes on (it stopped)."""
    with Visit(browser, site_url, f"{CHAPTER}/quiz/") as visit:
        page = visit.page
        key = page.evaluate(KEY)
        assert key == "genai-course:progress:" + re.sub(r"^https?://[^/]+", "", site_url).rstrip("/") + "/"
        odd = {"version": 1, "chapters": {CHAPTER: {"quiz": {
            "total": "x", "answers": {"q1": None, "q2": 7}, "best": "yes"}}, "llm": None}}
        page.evaluate("([key, data]) => localStorage.setItem(key, JSON.stringify(data))", [key, odd])
        page.reload(wait_until="networkidle")
        assert "not started" in page.locator(".quiz-score").text_content()
        q = question(page, 0)
        choose(q, correct=True)
        q.get_by_role("button", name="Check").click()
        assert "Correct" in q.locator(".quiz-feedback").text_content()
        quiz = stored(page)["chapters"][CHAPTER]["quiz"]
        assert list(quiz["answers"].values()) == [{"first": True, "solved": True, "tries": 1}]
        page.goto(f"{site_url}/progress/", wait_until="networkidle")
        gans = page.locator(f".course-progress__chapter[data-chapter='{CHAPTER}']")
        assert re.search(r"1 of 1 answer right", gans.text_content()), gans.text_content()
        # a progress kept under the key without the path (before) is taken over
        page.evaluate("([key, data]) => { localStorage.removeItem(key); "
                      "localStorage.setItem('genai-course:progress', JSON.stringify(data)); }",
                      [key, {"version": 1, "chapters": {CHAPTER: {"complete": True}}}])
        page.reload(wait_until="networkidle")
        assert "Complete" in gans.locator(".course-progress__state").text_content()
        assert page.evaluate("localStorage.getItem('genai-course:progress')") is None
        page.evaluate(f"localStorage.removeItem({KEY})")
        assert not visit.errors, f"console errors: {visit.errors}"


def test_instant_navigation_sets_up_once(browser, site_url, built_site):
    # Material navigates instantly only to the pages of its sitemap, which
    # names the published site; point it at this server (as test_browser does).
    sitemap = (built_site / "sitemap.xml").read_text()
    published = re.search(r"<loc>(.*?)</loc>", sitemap).group(1)
    sitemap = sitemap.replace(published, f"{site_url}/")
    with Visit(browser, site_url, f"{CHAPTER}/") as visit:
        page = visit.page
        page.route("**/sitemap.xml", lambda route: route.fulfill(
            body=sitemap, content_type="application/xml"))
        page.goto(f"{site_url}/{CHAPTER}/", wait_until="networkidle")
        page.evaluate("window.__not_reloaded = true")
        page.locator(f"a[href$='{CHAPTER}/quiz/']:visible").first.click()
        page.locator(".quiz-footer").wait_for()
        assert page.evaluate("window.__not_reloaded === true"), "instant navigation did not happen"
        assert page.locator(".quiz-footer").count() == 1
        assert page.locator(".chapter-complete__button").count() == 1
        assert page.locator(".quiz-check").count() == page.locator(".quiz-question").count()
        page.get_by_role("button", name="Mark this chapter complete").click()
        assert page.locator(".chapter-complete__button").get_attribute("aria-pressed") == "true"
        page.locator("a[href$='progress/']:visible").first.click()
        page.locator(".course-progress__list").wait_for()
        assert page.evaluate("window.__not_reloaded === true")
        assert page.locator(".course-progress__reset").count() == 1
        gans = page.locator(f".course-progress__chapter[data-chapter='{CHAPTER}']")
        assert "Complete" in gans.locator(".course-progress__state").text_content()
        assert not visit.errors, f"console errors: {visit.errors}"


def test_quiz_fits_a_phone_with_explanations_open(browser, site_url):
    with Visit(browser, site_url, f"{CHAPTER}/quiz/", viewport="phone") as visit:
        page = visit.page
        questions = page.locator(".quiz-question")
        for i in range(questions.count()):
            choose(questions.nth(i), correct=True)
            questions.nth(i).get_by_role("button", name="Check").click()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the quiz is {overflow}px wider than the screen"
        assert not visit.errors, f"console errors: {visit.errors}"


@pytest.mark.parametrize("path", [f"{CHAPTER}/quiz/", "progress/"])
def test_pages_read_without_javascript(browser, site_url, path):
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{site_url}/{path}")
        if path.endswith("quiz/"):
            first = page.locator(".quiz-question").first
            assert first.locator("li").count() >= 3 and first.locator("li").first.is_visible()
            details = first.locator("details.quiz-explanation")
            assert details.locator("summary").is_visible()
            assert not details.evaluate("d => d.open"), "the answer is folded away"
        else:
            links = page.locator(".course-progress a[data-chapter]")
            assert links.count() >= 6 and links.first.is_visible()
    finally:
        context.close()
