"""Answering: a question → retrieval → the model's draft → every claim checked → an `Answer`.

Modules, in the order a question flows through them: `conversation` (turns and the standalone question),
`retrieve` (hybrid search, sentences ranked), `pipeline` (the `Answerer`), `claims` (does a cited sentence support
a claim), `answerability` (could a sentence answer the question at all), `amounts` (numbers stated, and whether two
sources disagree).
"""
