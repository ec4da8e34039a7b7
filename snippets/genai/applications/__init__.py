"""The chapter "Applications": four command-line apps built on the course's
code (a content generator, a chatbot, AI art, a code assistant)
(docs/applications/).
"""
