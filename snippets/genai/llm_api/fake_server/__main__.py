"""python -m genai.llm_api.fake_server: see genai.llm_api.fake_server.server."""

from genai.llm_api.fake_server.server import main

main()
