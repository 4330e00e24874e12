"""Scoring building blocks shared by every task: text matching, numeric answers, statistics."""
