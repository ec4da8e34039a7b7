"""python -m genai.llm_api.fake_server: see genai.llm_api.fake_server.server."""

import sys

from genai.llm_api.fake_server.server import main

sys.exit(main())
