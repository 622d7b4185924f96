-- Ad spend per day and campaign, and the currency rates that convert it (configuration).
CREATE TABLE ad_spend (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	day          TEXT NOT NULL,
	source       TEXT NOT NULL,
	medium       TEXT NOT NULL,
	campaign     TEXT NOT NULL,
	amount       REAL NOT NULL,
	currency     TEXT NOT NULL,
	PRIMARY KEY (workspace_id, day, source, medium, campaign)
);

CREATE TABLE currency_rates (
	workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),
	document     TEXT NOT NULL
);
