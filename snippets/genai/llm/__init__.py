"""The chapter "Transformers and LLMs": a byte-level BPE tokenizer, the GPT-2
architecture, its training loop, the course's trained models, generation,
scale, in-context learning and the export to transformers (docs/llm/).
"""
