"""Calling a hosted LLM from Python: the course's one place for model names.

(Being written: see the LLM API chapter.)
"""

# --8<-- [start:models]
ANTHROPIC_MODEL = "claude-sonnet-5-5"
OPENAI_MODEL = "gpt-5.4-mini"
# --8<-- [end:models]

if __name__ == "__main__":
    print(f"The course's Claude model: {ANTHROPIC_MODEL}")
