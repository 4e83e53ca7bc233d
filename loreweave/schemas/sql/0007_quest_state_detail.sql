-- What the quests actor keeps per row besides state and progress: the objectives as they were
-- when the quest was taken (a designer may edit the file later), its game-time window, and why
-- it failed. Game times are game minutes, from the clock.
ALTER TABLE quest_state
    ADD COLUMN objectives  jsonb   NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN accepted_at integer NOT NULL DEFAULT 0,
    ADD COLUMN deadline    integer,
    ADD COLUMN failure     text;

-- Each clock tick looks for the active quests whose deadline passed.
CREATE INDEX quest_state_deadlines ON quest_state (world, deadline)
    WHERE state = 'active' AND deadline IS NOT NULL;

COMMENT ON COLUMN quest_state.objectives IS 'The objectives when the quest was taken: [{"id", "kind", "target", "count"}].';
COMMENT ON COLUMN quest_state.deadline IS 'Game minute after which an active quest fails (null: no time limit).';
COMMENT ON COLUMN quest_state.failure IS 'Why a failed quest failed (timeout, abandoned...).';
