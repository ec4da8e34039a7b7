"""The chapter "Reasoning models": a task with a checkable answer, thinking
out loud, spending compute at answer time, and reinforcement learning from
a checker (GRPO), on the course's own GPT (docs/reasoning/).
"""
