"""The Hog language (docs/hog.md): lexer, parser and evaluator, with no imports from the web layer."""
