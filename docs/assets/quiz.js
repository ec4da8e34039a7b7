/* Chapter quizzes, "mark this chapter complete", and the progress page.
 *
 * Quiz pages (docs/<chapter>/quiz.md) hold, in Markdown,
 *
 *   <div class="quiz" data-chapter="gans" markdown>
 *     <div class="quiz-question" markdown>   one per question:
 *       a paragraph (the question), a list of answers (the right one marked
 *       with `{ .correct }` on the line after it), and a
 *       <details class="quiz-explanation"> (why, with a link to the section).
 *
 * Without JavaScript the reader sees the questions, the answers as a list
 * and the explanations folded away. With it, each list becomes a group of
 * radio buttons with a "Check" button; the end of the quiz gets the score,
 * "Start again" and "Mark this chapter complete".
 *
 * The progress page (docs/progress.md) holds a list of links to the quiz
 * pages, each with data-chapter; this script shows what this browser has
 * stored for each chapter, and a reset button (click twice).
 *
 * Everything is kept in this browser's localStorage under one key,
 * "genai-course:progress:<the site's path>", as versioned JSON: every
 * project site under one github.io user shares one origin, and so one
 * localStorage. Nothing is sent anywhere, and anything unexpected found
 * there (a hand edit, another script) counts as absent.
 * Material's instant navigation swaps pages without reloading scripts, so
 * the set-up runs on every page it emits through `document$`.
 */
(function () {
  "use strict";

  var KEY = "genai-course:progress:" + siteRoot();
  var OLD_KEY = "genai-course:progress";   // before the site's path was in the key
  var VERSION = 1;

  function siteRoot() {
    // the site's own path, from the base that Material writes into each page
    try {
      var config = JSON.parse(document.getElementById("__config").textContent);
      return new URL(config.base, window.location.href).pathname;
    } catch (error) {
      return "/";
    }
  }

  /* ---------------------------------------------------------------- store */

  function emptyData() {
    return { version: VERSION, chapters: {} };
  }

  var checkedStorage; // localStorage if it works, else null; probed once

  function storage() {
    if (checkedStorage !== undefined) return checkedStorage;
    checkedStorage = probeStorage();
    return checkedStorage;
  }

  function probeStorage() {
    try {
      var s = window.localStorage;
      var probe = KEY + ":probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (error) {
      return null; // blocked (private mode, settings): the quizzes still work
    }
  }

  function load() {
    var s = storage();
    if (!s) return emptyData();
    try {
      if (s.getItem(KEY) === null && s.getItem(OLD_KEY) !== null) {
        s.setItem(KEY, s.getItem(OLD_KEY));
        s.removeItem(OLD_KEY);
      }
      var data = JSON.parse(s.getItem(KEY) || "null");
      if (data && data.version === VERSION && data.chapters &&
          typeof data.chapters === "object") {
        return data;
      }
    } catch (error) {
      console.warn("course progress: ignoring unreadable data", error);
    }
    return emptyData();
  }

  function save(data) {
    var s = storage();
    if (!s) return false;
    try {
      s.setItem(KEY, JSON.stringify(data));
      return true;
    } catch (error) {
      console.warn("course progress: could not save", error);
      return false;
    }
  }

  function chapterRecord(data, chapter) {
    var record = data.chapters[chapter];
    if (!record || typeof record !== "object") {
      record = data.chapters[chapter] = {};
    }
    if (!record.quiz || typeof record.quiz !== "object") {
      record.quiz = { total: 0, answers: {}, best: null };
    }
    var quiz = record.quiz;
    if (!quiz.answers || typeof quiz.answers !== "object") quiz.answers = {};
    Object.keys(quiz.answers).forEach(function (id) {
      var answer = quiz.answers[id];
      if (!answer || typeof answer !== "object") delete quiz.answers[id];
    });
    if (typeof quiz.total !== "number") quiz.total = 0;
    if (!quiz.best || typeof quiz.best !== "object" || typeof quiz.best.correct !== "number" ||
        typeof quiz.best.total !== "number") quiz.best = null;
    return record;
  }

  /* Change one chapter's record and save at once: other tabs and pages
   * may have written in between, so always start from what is stored. */
  function update(chapter, change) {
    var data = load();
    var record = chapterRecord(data, chapter);
    change(record);
    save(data);
    return record;
  }

  function quizScore(quiz) {
    var answered = 0;
    var correct = 0;
    Object.keys(quiz.answers || {}).forEach(function (id) {
      answered += 1;
      if (quiz.answers[id].first) correct += 1;
    });
    return { answered: answered, correct: correct, total: quiz.total || 0 };
  }

  function spokenText(node) {
    // the text of node, with each MathML formula replaced by its alttext
    var copy = node.cloneNode(true);
    copy.querySelectorAll("math").forEach(function (math) {
      math.replaceWith(document.createTextNode(math.getAttribute("alttext") || math.textContent));
    });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  /* A question's id: a hash of its text, so that adding a question does
   * not mix up the stored answers of the others. */
  function hashText(text) {
    var h = 5381;
    var normal = text.replace(/\s+/g, " ").trim();
    for (var i = 0; i < normal.length; i++) {
      h = ((h * 33) ^ normal.charCodeAt(i)) >>> 0;
    }
    return "q" + h.toString(36);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  function describeQuiz(quiz) {
    var score = quizScore(quiz);
    var parts = [];
    if (score.answered === 0) {
      parts.push("Quiz not started.");
    } else {
      parts.push(score.correct + " of " + plural(score.answered, "answer", "answers") +
                 " right at the first try" +
                 (score.total ? " (" + score.answered + " of " +
                  plural(score.total, "question", "questions") + " answered)." : "."));
    }
    if (quiz.best) {
      parts.push("Best full round: " + quiz.best.correct + " of " + quiz.best.total + ".");
    }
    return parts.join(" ");
  }

  /* ----------------------------------------------------------------- quiz */

  var uid = 0;

  function setUpQuestion(box, chapter, number, count, onAnswer) {
    var list = box.querySelector(":scope > ul, :scope > ol");
    var prompt = box.querySelector(":scope > p");
    var explanation = box.querySelector(":scope > details");
    if (!list || !prompt) return null;
    var items = Array.prototype.slice.call(list.children);
    var right = items.filter(function (li) { return li.classList.contains("correct"); });
    if (right.length !== 1) {
      console.warn("quiz: a question needs exactly one answer marked { .correct }", box);
      return null;
    }
    var id = hashText(prompt.textContent);
    var name = "quiz-" + chapter + "-" + (++uid);

    var fieldset = el("fieldset", { "class": "quiz-choices" });
    var legend = el("legend", { "class": "quiz-prompt" });
    legend.append(el("span", { "class": "quiz-number" }, "Question " + number + " of " + count + ". "));
    while (prompt.firstChild) legend.appendChild(prompt.firstChild);
    fieldset.appendChild(legend);

    var inputs = items.map(function (li, i) {
      var label = el("label", { "class": "quiz-choice" });
      var input = el("input", { type: "radio", name: name, value: String(i) });
      var text = el("span", { "class": "quiz-choice__text" });
      while (li.firstChild) text.appendChild(li.firstChild);
      label.append(input, text);
      // An answer that is only a formula has no text a screen reader can
      // name the button by: name it with the formula's source (alttext).
      input.setAttribute("aria-label", spokenText(text));
      fieldset.appendChild(label);
      input.correct = li.classList.contains("correct");
      return input;
    });

    var check = el("button", { type: "button", "class": "md-button quiz-check" }, "Check");
    var feedback = el("p", { "class": "quiz-feedback", role: "status", "aria-live": "polite" });
    var actions = el("div", { "class": "quiz-actions" });
    actions.append(check, feedback);

    // Anything between the question and the answers (a formula, a figure)
    // stays between them, inside the group.
    var extra = [];
    for (var node = prompt.nextElementSibling; node && node !== list;
         node = node.nextElementSibling) {
      extra.push(node);
    }
    var firstChoice = fieldset.querySelector(".quiz-choice");
    extra.forEach(function (node) { fieldset.insertBefore(node, firstChoice); });
    prompt.replaceWith(fieldset);
    list.replaceWith(actions);

    function mark(input, state) {
      input.parentNode.classList.remove("quiz-choice--right", "quiz-choice--wrong");
      if (state) input.parentNode.classList.add("quiz-choice--" + state);
    }

    function showSolved(message) {
      inputs.forEach(function (input) {
        mark(input, input.correct ? "right" : null);
        if (input.correct) input.checked = true;
      });
      box.classList.add("quiz-question--solved");
      feedback.className = "quiz-feedback quiz-feedback--right";
      feedback.textContent = message;
      if (explanation) explanation.open = true;
    }

    function reset() {
      inputs.forEach(function (input) {
        input.checked = false;
        mark(input, null);
      });
      box.classList.remove("quiz-question--solved");
      feedback.className = "quiz-feedback";
      feedback.textContent = "";
      if (explanation) explanation.open = false;
    }

    check.addEventListener("click", function () {
      var chosen = inputs.filter(function (input) { return input.checked; })[0];
      if (!chosen) {
        feedback.className = "quiz-feedback";
        feedback.textContent = "Choose an answer first.";
        return;
      }
      onAnswer(id, chosen.correct);
      if (chosen.correct) {
        showSolved("Correct! The explanation is open below.");
      } else {
        mark(chosen, "wrong");
        feedback.className = "quiz-feedback quiz-feedback--wrong";
        feedback.textContent = "Not quite. Try another answer, or open the explanation.";
      }
    });

    function restore(answer) {
      reset();
      if (answer && answer.solved) {
        showSolved(answer.first ? "You answered this right at the first try."
                                : "You found the right answer after a wrong try.");
      } else if (answer) {
        feedback.className = "quiz-feedback quiz-feedback--wrong";
        feedback.textContent = "Your first answer was not right. Try again.";
      }
    }

    return { id: id, restore: restore };
  }

  function setUpQuiz(quiz) {
    if (quiz.dataset.ready) return;
    var chapter = quiz.dataset.chapter;
    if (!chapter) return;
    quiz.dataset.ready = "true";
    var boxes = Array.prototype.slice.call(quiz.querySelectorAll(".quiz-question"));
    var questions = [];
    var total = boxes.length;

    var score = el("p", { "class": "quiz-score", role: "status", "aria-live": "polite" });

    function refresh() {
      var record = chapterRecord(load(), chapter);
      score.textContent = "Your score: " + describeQuiz(record.quiz);
      return record;
    }

    function onAnswer(id, correct) {
      update(chapter, function (record) {
        var quizRecord = record.quiz;
        quizRecord.total = total;
        var answer = quizRecord.answers[id];
        if (!answer) answer = quizRecord.answers[id] = { first: correct, solved: false, tries: 0 };
        answer.tries += 1;
        if (correct) answer.solved = true;
        quizRecord.updated = new Date().toISOString();
        var s = quizScore(quizRecord);
        var current = questions.every(function (q) { return quizRecord.answers[q.id]; });
        if (current && (!quizRecord.best || s.correct > quizRecord.best.correct ||
                        quizRecord.best.total !== total)) {
          quizRecord.best = { correct: s.correct, total: total };
        }
      });
      refresh();
    }

    boxes.forEach(function (box, i) {
      var q = setUpQuestion(box, chapter, i + 1, total, onAnswer);
      if (q) questions.push(q);
    });
    total = questions.length;

    var again = el("button", { type: "button", "class": "md-button quiz-again" }, "Start the quiz again");
    again.addEventListener("click", function () {
      update(chapter, function (record) { record.quiz.answers = {}; });
      questions.forEach(function (q) { q.restore(null); });
      refresh();
      score.textContent = "Answers cleared. " + score.textContent;
    });

    var footer = el("div", { "class": "quiz-footer" });
    footer.append(score, again);
    quiz.appendChild(footer);

    var record = refresh();
    // Forget answers to questions that are no longer on the page.
    var known = {};
    questions.forEach(function (q) { known[q.id] = true; });
    update(chapter, function (r) {
      r.quiz.total = total;
      Object.keys(r.quiz.answers).forEach(function (id) {
        if (!known[id]) delete r.quiz.answers[id];
      });
    });
    questions.forEach(function (q) { q.restore(record.quiz.answers[q.id]); });
    refresh();

    if (!document.querySelector('.chapter-complete[data-chapter="' + chapter + '"]')) {
      var complete = el("div", { "class": "chapter-complete", "data-chapter": chapter });
      quiz.after(complete);
    }
  }

  /* ------------------------------------------------ chapter complete */

  function setUpComplete(box) {
    if (box.dataset.ready) return;
    var chapter = box.dataset.chapter;
    if (!chapter) return;
    box.dataset.ready = "true";
    var button = el("button", { type: "button", "class": "md-button chapter-complete__button",
                                "aria-pressed": "false" }, "Mark this chapter complete");
    var status = el("p", { "class": "chapter-complete__status", role: "status",
                           "aria-live": "polite" });

    function show(record) {
      var done = Boolean(record.complete);
      button.setAttribute("aria-pressed", String(done));
      button.classList.toggle("md-button--primary", done);
      status.textContent = done ? "\u2713 You marked this chapter complete."
                                : "Not marked complete yet.";
    }

    button.addEventListener("click", function () {
      show(update(chapter, function (record) {
        record.complete = !record.complete;
        record.completedAt = record.complete ? new Date().toISOString() : null;
      }));
    });
    box.replaceChildren(button, status);
    show(chapterRecord(load(), chapter));
  }

  /* ------------------------------------------------------ progress page */

  function setUpProgress(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "true";
    var links = Array.prototype.slice.call(box.querySelectorAll("a[data-chapter]"));
    var chapters = links.map(function (a) {
      return { id: a.dataset.chapter, title: a.textContent.trim(), href: a.getAttribute("href") };
    });

    var summary = el("p", { "class": "course-progress__summary", role: "status",
                            "aria-live": "polite" });
    var list = el("ul", { "class": "course-progress__list" });
    var reset = el("button", { type: "button", "class": "md-button course-progress__reset" },
                   "Reset my progress");
    var armed = null;

    function render(message) {
      var data = load();
      var done = 0;
      list.replaceChildren();
      chapters.forEach(function (chapter) {
        var record = chapterRecord(data, chapter.id);
        if (record.complete) done += 1;
        var item = el("li", { "class": "course-progress__chapter", "data-chapter": chapter.id });
        var title = el("a", { href: chapter.href }, chapter.title);
        var state = el("span", { "class": "course-progress__state" +
                                 (record.complete ? " course-progress__state--done" : "") },
                       record.complete ? "\u2713 Complete" : "Not complete yet");
        var quiz = el("span", { "class": "course-progress__quiz" }, describeQuiz(record.quiz));
        item.append(title, " ", state, quiz);
        list.appendChild(item);
      });
      summary.textContent = (message ? message + " " : "") + "You have completed " + done +
        " of " + plural(chapters.length, "chapter", "chapters") + ".";
    }

    reset.addEventListener("click", function () {
      if (!armed) {
        reset.textContent = "Click again to erase your progress";
        reset.classList.add("course-progress__reset--armed");
        summary.textContent = "Click the button again to erase your progress in this browser.";
        armed = setTimeout(function () {
          armed = null;
          reset.textContent = "Reset my progress";
          reset.classList.remove("course-progress__reset--armed");
          render();
        }, 6000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      var s = storage();
      if (s) s.removeItem(KEY);
      reset.textContent = "Reset my progress";
      reset.classList.remove("course-progress__reset--armed");
      render("Your progress was erased.");
    });

    var note = storage() ? null : el("p", { "class": "course-progress__note" },
      "This browser does not let the site store anything, so your progress " +
      "is not kept between pages.");
    box.replaceChildren(summary, list, reset);
    if (note) box.prepend(note);
    render();
  }

  /* -------------------------------------------------------------- start */

  function setUpAll() {
    document.querySelectorAll(".quiz[data-chapter]").forEach(setUpQuiz);
    document.querySelectorAll(".chapter-complete[data-chapter]").forEach(setUpComplete);
    document.querySelectorAll(".course-progress").forEach(setUpProgress);
  }

  if (typeof document$ !== "undefined" && document$ && document$.subscribe) {
    document$.subscribe(setUpAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
