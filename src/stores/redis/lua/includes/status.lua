-- Status codes returned as the first element of a script's reply. mapScriptStatus() in
-- src/stores/redis/script-status.ts is the only place that translates them.
local OK = 0
local DUPLICATE = 1
-- No event with that ID in a state the operation applies to: unknown, another user's, being sent,
-- or (for the claim's holder) a claim lost. One status for all, as callers must not learn which
-- (Synapse answers 404 for each, so IDs of others are never confirmed).
local NOT_FOUND = -1
local MAX_OUTSTANDING = -5 -- the user is at their cap
local RATE_LIMITED = -6    -- a rate-limit charge taken in the script was refused
