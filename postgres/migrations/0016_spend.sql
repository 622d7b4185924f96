-- Ad spend per day and campaign, and the currency rates that convert it (configuration).
CREATE TABLE ad_spend (
	workspace_id text NOT NULL REFERENCES workspaces(id),
	day          text NOT NULL,
	source       text NOT NULL,
	medium       text NOT NULL,
	campaign     text NOT NULL,
	amount       double precision NOT NULL,
	currency     text NOT NULL,
	PRIMARY KEY (workspace_id, day, source, medium, campaign)
);

CREATE TABLE currency_rates (
	workspace_id text PRIMARY KEY REFERENCES workspaces(id),
	document     text NOT NULL
);
