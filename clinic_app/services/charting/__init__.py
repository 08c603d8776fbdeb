"""The chart: notes and signing, templates, measures, codes, the record, the body chart."""
