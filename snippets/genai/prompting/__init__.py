"""The chapter "Prompt engineering": prompts as tested templates, delimiting
untrusted text, and checked JSON replies (docs/prompting/).
"""
