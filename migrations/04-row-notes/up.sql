-- row_outcomes.notes_json: what a person has to know, or do, about a row that went through,
-- as [{"code", "message"}, ...]; NULL for almost every row. The codes:
--   reactivate_by_hand    a user an earlier run deactivated is back in the export; their data
--                         was sent, but the provider cannot be asked to give their access back
--   reactivation_refused  the provider refused to give a returning user their access back; their
--                         update was sent anyway
--   not_cleared           fields emptied in the export that the provider cannot clear: their old
--                         values stay there
-- Reports list these rows under "needs a person". Adding a column keeps every row as it was.
ALTER TABLE row_outcomes ADD COLUMN notes_json TEXT;
