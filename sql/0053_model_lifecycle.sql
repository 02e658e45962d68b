-- 0053: model lifecycle and the CSV delimiter.
--
-- A model gets a name (free text, for people; the id stays the handle) and
-- tags (a set of short labels: "prod", "candidate"); pinned came with
-- retention (0012). A dataset records the delimiter its header was sniffed
-- with (ml/csv.h), so its document can say how the file was read; rows of
-- older datasets were all read with ','.

ALTER TABLE models ADD COLUMN name text;
ALTER TABLE models ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN updated_at timestamptz;
ALTER TABLE datasets ADD COLUMN delimiter text NOT NULL DEFAULT ','
    CHECK (delimiter IN (',', ';', E'\t', '|'));
