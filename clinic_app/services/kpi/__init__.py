"""The manager's figures: KPI queries and the daily rollups that serve them."""
