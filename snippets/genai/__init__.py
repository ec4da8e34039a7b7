"""The course's code: one readable module per idea, imported as ``genai``."""
