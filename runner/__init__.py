"""llm-vault runner: index → links → export → execute → cache → report → site.

One module per stage; data flows one way. `runner.env` is the small API that notes themselves call.
"""
__version__ = "0.1.0"
