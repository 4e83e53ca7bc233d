-- pgvector: embeddings for the knowledge base and NPC memories.
-- Needs pgvector installed on the server (the embedded pgserver ships it).
CREATE EXTENSION IF NOT EXISTS vector;
