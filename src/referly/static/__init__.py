"""The browser script, `universal.js`, and how it is served (`script.py`)."""
