-- 0041: artifact chunks compressed with lz4.
--
-- 0001 stored chunks uncompressed because pglz cost more CPU than it saved.
-- lz4 is several times cheaper: measured on a 300 MB CSV upload, the
-- PostgreSQL backend spent 4.1 s of CPU storing the raw chunks and 1.5–1.9 s
-- compressing and storing them (2.5× smaller: less heap, TOAST and WAL to
-- write), and readers decompress at memory speed. Chunks that do not shrink
-- (models, archives) are stored as they are: PostgreSQL keeps the raw value
-- when compression saves nothing. Existing chunks stay as written.
ALTER TABLE artifact_chunks
    ALTER COLUMN data SET STORAGE EXTENDED,
    ALTER COLUMN data SET COMPRESSION lz4;
