"""Thin KFP lightweight components, one per stage; each calls a plain function of `corridos`.

Imports live inside the functions: KFP ships each function's source alone to its container.
"""
