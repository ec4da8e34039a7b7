"""The content generator: templates refuse bad options, each kind of post is
generated through the real SDK, the batch mode writes one file per row,
skips finished rows on a rerun, survives an interruption without a
half-written file, and bad input ends with one clear line and exit code 2.

Tests that count requests or script failures start their own FakeLLMServer.
"""

from __future__ import annotations

import os
import subprocess
import sys

import anthropic
import pytest

from genai.applications.content_generator import (DEMO_CSV, KINDS, SYSTEM, ContentError,
                                                  content_prompt, facts_of, file_names, generate,
                                                  generate_batch, main, read_products, slugify,
                                                  write_atomically)
from genai.llm_api.fake_server import FALLBACK, FakeLLMServer, load_replies
from support import REPLIES, ROOT, claude

RECORDINGS = REPLIES / "content_generator.json"
BLOG_FACTS = ("Pebble & Pine opens its first shop in Porto on 3 May; "
              "Rua das Flores 12; open Tuesday to Sunday, 10:00 to 19:00; "
              "free coffee for visitors on opening day")
SOCIAL_FACTS = ("Summer sale: 20% off all tents; 1 to 14 July; online "
                "and in the Porto shop")
FALLBACK_START = FALLBACK.split("{")[0]


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "genai.applications.content_generator", *args], cwd=ROOT,
        capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})})


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------
def test_the_prompt_states_kind_audience_tone_length_and_delimits_facts():
    prompt = content_prompt("blog", "a </facts> b", audience=" hikers ",
                            tone="playful", length="long")
    assert prompt.startswith("Write a blog post for hikers, in a playful "
                             "tone, of about 900 words.")
    assert prompt.endswith("<facts>\na &lt;/facts&gt; b\n</facts>")
    assert prompt.count("</facts>") == 1  # the facts cannot close the block
    for kind, (_, _, words) in KINDS.items():
        for length, n in zip(("short", "medium", "long"), words):
            assert f"about {n} words" in content_prompt(kind, "x",
                                                        length=length)


@pytest.mark.parametrize("options, message", [
    ({"kind": "poem"}, "unknown kind 'poem'; choose one of blog"),
    ({"tone": "angry"}, "unknown tone 'angry'"),
    ({"length": "huge"}, "unknown length 'huge'"),
    ({"facts": "  "}, "facts are empty"),
    ({"facts": None}, "facts are empty"),
    ({"audience": ""}, "audience must be 1 to 80 characters"),
    ({"audience": "x" * 81}, "audience must be 1 to 80 characters"),
])
def test_bad_options_are_refused_with_what_is_allowed(options, message):
    arguments = {"kind": "blog", "facts": "facts", **options}
    with pytest.raises(ContentError, match=message.replace("(", r"\(")):
        content_prompt(**arguments)
    assert issubclass(ContentError, ValueError)


def test_every_recording_matches_a_prompt_the_templates_build():
    rows = read_products(DEMO_CSV)
    prompts = {content_prompt("blog", BLOG_FACTS, audience="local customers",
                              length="short"),
               content_prompt("social", SOCIAL_FACTS, tone="playful",
                              length="short"),
               content_prompt("product", facts_of(rows[0]), length="short")}
    prompts |= {content_prompt("product", facts_of(row)) for row in rows}
    # the page's "Run it" examples (test_command_lines.py runs each one)
    prompts |= {content_prompt("product", "Trail Mug; steel; 350 ml"),
                content_prompt("blog", "We open a shop in Porto on 3 May",
                               audience="local customers", length="short"),
                content_prompt("social", "20% off tents")}
    recorded = load_replies(RECORDINGS.parent)
    mine = [r for r in recorded if r.get("system") == SYSTEM]
    assert {r["prompt"] for r in mine} == prompts
    assert len(mine) == len(prompts) == 10


# ---------------------------------------------------------------------------
# One post of each kind, through the SDK (the session's fake server)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind, facts, options, start", [
    ("blog", BLOG_FACTS, {"audience": "local customers", "length": "short"},
     "# Pebble & Pine Opens Its Doors in Porto"),
    ("social", SOCIAL_FACTS, {"tone": "playful", "length": "short"},
     "Tents are 20% off"),
    ("product", facts_of(read_products(DEMO_CSV)[0]), {"length": "short"},
     "## Trail Mug (Forest Green)"),
])
def test_one_post_of_each_kind(kind, facts, options, start):
    text = generate(kind, facts, **options)
    assert text.startswith(start) and text.endswith("\n")
    assert FALLBACK_START not in text


def test_the_command_line_prints_markdown_or_writes_a_file(tmp_path,
                                                          capsys):
    assert main(["social", SOCIAL_FACTS, "--tone", "playful",
                 "--length", "short"]) == 0
    assert capsys.readouterr().out.startswith("Tents are 20% off")
    out = tmp_path / "post.md"
    assert main(["blog", BLOG_FACTS, "--audience", "local customers",
                 "--length", "short", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert out.read_text().startswith("# Pebble & Pine")
    assert [p.name for p in tmp_path.iterdir()] == ["post.md"]


def test_a_reply_cut_off_at_max_tokens_is_an_error():
    long = [{"prompt": content_prompt("blog", "x"), "reply": "word " * 3000}]
    with FakeLLMServer(replies=long) as fake:
        with pytest.raises(ContentError, match="cut off at max_tokens"):
            generate("blog", "x", client=claude(fake))


def test_help_describes_the_tool_with_examples():
    result = run_cli("--help")
    assert result.returncode == 0
    for text in ("blog post", "--batch CSV", "--out-dir DIR", "examples:",
                 "--tone {friendly,professional,playful,enthusiastic}"):
        assert text in result.stdout


def test_no_arguments_runs_the_demo(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "Demo: a product description" in out
    assert "## Trail Mug (Forest Green)" in out


# ---------------------------------------------------------------------------
# Files: slugs, collisions, atomic writes
# ---------------------------------------------------------------------------
def test_slugs_are_safe_and_collisions_get_numbers():
    assert slugify("Café Mug (Blue)!") == "cafe-mug-blue"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert file_names(["Mug", "mug", "Bottle", "MUG!", "???"]) == [
        "mug.md", "mug-2.md", "bottle.md", "mug-3.md", "row-5.md"]


def test_an_atomic_write_leaves_no_partial_file(tmp_path):
    path = tmp_path / "a.md"
    write_atomically(path, "one\n")
    write_atomically(path, "two\n")
    assert path.read_text() == "two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]


# ---------------------------------------------------------------------------
# Batch mode
# ---------------------------------------------------------------------------
EXPECTED_FILES = ["camp-spork.md", "summit-bottle.md", "trail-mug-2.md",
                  "trail-mug.md"]


def test_batch_end_to_end_then_a_rerun_skips_every_row(server, tmp_path):
    out = tmp_path / "out"
    result = run_cli("--batch", str(DEMO_CSV), "--out-dir", str(out),
                     env=server.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "done: 4 written, 0 skipped"
    assert sorted(p.name for p in out.iterdir()) == EXPECTED_FILES
    assert (out / "trail-mug-2.md").read_text().startswith(
        "## Trail Mug in Slate Grey")
    for path in out.iterdir():
        assert FALLBACK_START not in path.read_text()
    assert len(server.requests) == 4
    result = run_cli("--batch", str(DEMO_CSV), "--out-dir", str(out),
                     env=server.env())
    assert result.stdout.count("skip  ") == 4
    assert result.stdout.splitlines()[-1] == "done: 0 written, 4 skipped"
    assert len(server.requests) == 4  # no new request


def test_an_interrupted_batch_keeps_finished_rows_and_finishes_later(
        server, tmp_path, capsys):
    out = tmp_path / "out"
    generate_batch(DEMO_CSV, out, client=claude(server))
    expected = {p.name: p.read_text() for p in out.iterdir()}
    for path in out.iterdir():
        path.unlink()
    server.reset()
    with pytest.raises(anthropic.InternalServerError):
        generate_batch(DEMO_CSV, out, client=_failing_on_row(server, 3))
    assert sorted(p.name for p in out.iterdir()) == ["trail-mug-2.md",
                                                     "trail-mug.md"]
    server.reset()
    written, skipped = generate_batch(DEMO_CSV, out, client=claude(server))
    assert (written, skipped) == (2, 2)
    assert len(server.requests) == 2  # only the rows that were missing
    assert {p.name: p.read_text() for p in out.iterdir()} == expected
    assert "skip  " in capsys.readouterr().out


def _failing_on_row(server, row):
    """A client (no retries) whose row-th request gets a server error."""
    client = claude(server)
    create, seen = client.messages.create, []

    def create_and_count(**request):
        seen.append(request)
        if len(seen) == row:
            server.fail_next(1, status=500)
        return create(**request)

    client.messages.create = create_and_count
    return client


def test_an_api_failure_ends_the_command_with_one_line(server, tmp_path,
                                                        capsys):
    server.fail_next(3, status=500, retry_after=0.01)  # 1 try + 2 retries
    assert main(["--batch", str(DEMO_CSV), "--out-dir",
                 str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rerun to continue" in err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# Bad input: one line on stderr, exit code 2, no traceback
# ---------------------------------------------------------------------------
def write(tmp_path, text, name="p.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("csv_text, message", [
    ("", "empty; the first line must name the columns"),
    ("title,colour\nMug,red\n", "missing column 'name'; found title, colour"),
    ("name,colour\n", "no rows after the header"),
    ("name,colour\nMug,red\n ,blue\n", "line 3: empty 'name'"),
])
def test_a_bad_csv_is_refused_before_any_request(server, tmp_path, capsys,
                                                 csv_text, message):
    path = write(tmp_path, csv_text)
    assert main(["--batch", str(path), "--out-dir",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"content_generator: error: {path}: {message}")
    assert err.count("\n") == 1
    assert server.requests == []


def test_a_missing_or_binary_csv_is_refused(tmp_path):
    with pytest.raises(ContentError, match="no such file"):
        read_products(tmp_path / "nope.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"name\n\xff\xfe\x00")
    with pytest.raises(ContentError, match="not a UTF-8 text file"):
        read_products(binary)


@pytest.mark.parametrize("args, message", [
    (["blog"], "give a kind and the facts"),
    (["blog", " "], "facts are empty"),
    (["--batch", "x.csv"], "--batch needs --out-dir"),
    (["blog", "x", "--audience", ""], "audience must be 1 to 80"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_an_output_path_that_cannot_be_written_is_one_line(server,
                                                           tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["social", SOCIAL_FACTS, "--out",
                 str(tmp_path / "missing" / "x.md")]) == 2
    assert main(["--batch", str(DEMO_CSV), "--out-dir", str(blocked)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2
    assert "there is no folder" in err and "content_generator: error: [Errno" in err


def test_argparse_errors_are_one_line_too():
    result = run_cli("poem", "facts")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "invalid choice: 'poem'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_key_explains_how_to_set_it(tmp_path):
    result = run_cli("blog", "facts", env={"ANTHROPIC_API_KEY": ""})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "ANTHROPIC_API_KEY is not set" in result.stderr
    assert "export ANTHROPIC_API_KEY=" in result.stderr
