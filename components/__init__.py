"""The pipeline's steps, one function per stage; each calls a plain function of `corridos`.

The pipeline (pipelines/corridos_pipeline.py) makes each a KFP lightweight component in its job's
image. Imports live inside the functions: KFP ships each function's source alone to its container.
"""
