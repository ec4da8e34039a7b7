"""The chapter "LLM APIs": calling Anthropic's and OpenAI's APIs (model names,
keys, cost, tools, a local model) and the local fake server the tests and
readers use without a key (docs/llm-api/).
"""
