"""Route constants, in one place."""

LOGIN = "/login"
BOARD = "/board"
CHART = "/chart"
BILLING = "/billing"
KPI = "/kpi"
API_TOKENS = "/api-tokens"
