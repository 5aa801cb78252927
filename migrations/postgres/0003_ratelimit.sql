-- Per-user rate limit of /skill (the rate-limit plugin): one token bucket per user, shared by every instance.
-- Times are epoch milliseconds so that the refill arithmetic is the same SQL on both dialects.
create table ratelimit (
  user_id    text primary key,
  tokens     double precision not null,
  updated_ms bigint not null,
  allowed    integer not null
);
