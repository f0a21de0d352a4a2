-- Deterministic CRM data: setseed() fixes random() for this session, ids and timestamps are
-- derived from the row number. %(rows)s accounts; 3 contacts, 2 opportunities, 1 case and
-- 5 activities per account.
SELECT setseed(%(seed)s);
INSERT INTO accounts
SELECT g, 'Account ' || g,
       (ARRAY['software', 'retail', 'health', 'finance', 'energy'])[1 + (random() * 4)::int],
       timestamptz '2026-01-01 00:00:00+00' + g * interval '7 minutes',
       timestamptz '2026-01-01 00:00:00+00' + g * interval '7 minutes' + (random() * 1000)::int * interval '1 minute'
FROM generate_series(1, %(rows)s) AS g;
INSERT INTO contacts
SELECT g, 1 + (g - 1) / 3,
       (ARRAY['Ada', 'Grace', 'Alan', 'Linus', 'Barbara', 'Edsger'])[1 + (random() * 5)::int],
       (ARRAY['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Liskov', 'Dijkstra'])[1 + (random() * 5)::int],
       'contact' || g || '@example.com',
       timestamptz '2026-01-01 00:00:00+00' + g * interval '3 minutes',
       timestamptz '2026-01-01 00:00:00+00' + g * interval '3 minutes'
FROM generate_series(1, 3 * %(rows)s) AS g;
INSERT INTO opportunities
SELECT g, 1 + (g - 1) / 2, 'Deal ' || g,
       (ARRAY['prospect', 'qualified', 'proposal', 'won', 'lost'])[1 + (random() * 4)::int],
       round((random() * 100000)::numeric, 2),
       date '2026-01-01' + (random() * 365)::int,
       timestamptz '2026-01-01 00:00:00+00' + g * interval '5 minutes',
       timestamptz '2026-01-01 00:00:00+00' + g * interval '5 minutes'
FROM generate_series(1, 2 * %(rows)s) AS g;
INSERT INTO cases
SELECT g, g, 3 * g - 2, 'Case ' || g,
       (ARRAY['open', 'pending', 'closed'])[1 + (random() * 2)::int],
       1 + (random() * 3)::int,
       timestamptz '2026-02-01 00:00:00+00' + g * interval '11 minutes',
       NULL
FROM generate_series(1, %(rows)s) AS g;
INSERT INTO activities
SELECT g, 1 + (g - 1) / 5 * 3 %% (3 * %(rows)s),
       CASE WHEN random() < 0.5 THEN 1 + (g - 1) / 5 * 2 %% (2 * %(rows)s) END,
       (ARRAY['call', 'email', 'meeting', 'note'])[1 + (random() * 3)::int],
       repeat(md5(g::text), 1 + (random() * 3)::int),
       timestamptz '2026-03-01 00:00:00+00' + g * interval '2 minutes'
FROM generate_series(1, 5 * %(rows)s) AS g;
ANALYZE;
