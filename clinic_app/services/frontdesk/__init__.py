"""The front desk: booking and its rules, the board, series, waitlist, patients, episodes, reminders."""
