"""The patient portal: what patients do for themselves (issue 18)."""
