"""Ingestion: article files → Article (articles, html) → sentences with offsets → chunks → vectors in the store.

Modules, in the order data flows through them: `articles` (loaders), `html` (article text from a page),
`sentences` (the splitter), `chunks` (sentence windows and the text embedded for each), `dedupe` (near-duplicate
stories), `pipeline` (ties them together and writes through the store).
"""
