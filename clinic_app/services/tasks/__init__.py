"""The staff's task inbox: rules that open and close tasks from the clinic's own data
(rules.py), and the inbox a person works them in (inbox.py). Services never commit: the
caller owns the transaction; TasksChanged is published when it commits."""
