"""The ``file_drop`` driver: a lab robot that exchanges requests and results through folders."""
