-- The schema tenantmatch's version-1 code (before migrations) created in SQLite: sqlite_master's
-- statements ordered by name. tests/matching/test_migrations.py checks revision 0001 against it.
CREATE TABLE api_keys (
	key_id TEXT NOT NULL, 
	key_hash TEXT NOT NULL, 
	role TEXT NOT NULL, 
	operator_id TEXT, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	PRIMARY KEY (key_id)
);
CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	ts DATETIME NOT NULL, 
	key_id TEXT, 
	action TEXT NOT NULL, 
	target TEXT, 
	detail TEXT, 
	PRIMARY KEY (id)
);
CREATE TABLE buildings (
	building_id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	city TEXT NOT NULL, 
	district TEXT NOT NULL, 
	lat DOUBLE, 
	lon DOUBLE, 
	theme TEXT NOT NULL, 
	grade TEXT, 
	total_area_m2 DOUBLE NOT NULL, 
	vacant_area_m2 DOUBLE NOT NULL, 
	min_unit_m2 DOUBLE, 
	rent_cny_m2_day DOUBLE, 
	floors BIGINT, 
	completed_year BIGINT, 
	smart_5a BIGINT, 
	amenities TEXT, 
	operator_id TEXT, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_buildings PRIMARY KEY (building_id)
);
CREATE TABLE enterprises (
	enterprise_id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	industry_code TEXT NOT NULL, 
	employees BIGINT NOT NULL, 
	revenue_10k_cny DOUBLE, 
	registered_capital_10k_cny DOUBLE, 
	founded DATE, 
	city TEXT, 
	district TEXT, 
	lat DOUBLE, 
	lon DOUBLE, 
	hq_type TEXT, 
	tags TEXT, 
	credit_score DOUBLE, 
	risk_flags TEXT, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_enterprises PRIMARY KEY (enterprise_id)
);
CREATE TABLE events (
	enterprise_id TEXT NOT NULL, 
	building_id TEXT NOT NULL, 
	date DATE NOT NULL, 
	stage TEXT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_events PRIMARY KEY (enterprise_id, building_id, date, stage), 
	FOREIGN KEY(enterprise_id) REFERENCES enterprises (enterprise_id) ON DELETE CASCADE, 
	FOREIGN KEY(building_id) REFERENCES buildings (building_id) ON DELETE CASCADE
);
CREATE INDEX ix_audit_log_ts ON audit_log (ts);
CREATE INDEX ix_buildings_city_district ON buildings (city, district);
CREATE INDEX ix_buildings_operator_id ON buildings (operator_id);
CREATE INDEX ix_enterprises_city ON enterprises (city);
CREATE INDEX ix_enterprises_industry_code ON enterprises (industry_code);
CREATE INDEX ix_events_building_id_date ON events (building_id, date);
CREATE INDEX ix_events_enterprise_id ON events (enterprise_id);
CREATE INDEX ix_links_target_id ON links (target_id);
CREATE INDEX ix_tenancies_building_id_end_date ON tenancies (building_id, end_date);
CREATE INDEX ix_tenancies_enterprise_id ON tenancies (enterprise_id);
CREATE TABLE links (
	source_id TEXT NOT NULL, 
	target_id TEXT NOT NULL, 
	relation TEXT NOT NULL, 
	weight DOUBLE, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_links PRIMARY KEY (source_id, target_id, relation), 
	FOREIGN KEY(source_id) REFERENCES enterprises (enterprise_id) ON DELETE CASCADE, 
	FOREIGN KEY(target_id) REFERENCES enterprises (enterprise_id) ON DELETE CASCADE
);
CREATE TABLE meta (
	"key" TEXT NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE tenancies (
	enterprise_id TEXT NOT NULL, 
	building_id TEXT NOT NULL, 
	area_m2 DOUBLE, 
	start_date DATE NOT NULL, 
	end_date DATE, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_tenancies PRIMARY KEY (enterprise_id, building_id, start_date), 
	FOREIGN KEY(enterprise_id) REFERENCES enterprises (enterprise_id) ON DELETE CASCADE, 
	FOREIGN KEY(building_id) REFERENCES buildings (building_id) ON DELETE CASCADE
);
