/**
 * Demo users of the embedded development OpenID provider, and password checking.
 *
 * - `alice` / `alice-password`: a small account with 2 groups.
 * - `erin` / `erin-password`: an "enterprise" account with 150 long group names, so
 *   her ID token is about as large as one from an enterprise Keycloak or Entra ID.
 * - `groups-<N>` / `groups-<N>-password` (N = 0..1000): generated accounts with N
 *   groups, for benchmarks of how cookie/session size grows with the ID token.
 *
 * The subject (`sub`) of every account is its username. Everything is
 * deterministic: the same username always yields the same claims.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Account, AccountClaims, FindAccount } from "oidc-provider";

export interface DemoUser {
  username: string;
  password: string;
  name: string;
  groupCount: number;
}

interface UserRecord {
  username: string;
  password: string;
  name: string;
  givenName: string;
  familyName: string;
  email: string;
  groups: readonly string[];
}

/** Largest N accepted for the generated `groups-<N>` accounts. */
export const MAX_GENERATED_GROUPS = 1000;

const REGIONS = ["emea", "amer", "apac", "latam"] as const;
const DEPARTMENTS = ["engineering", "finance", "operations", "research", "marketing", "sales", "legal"] as const;
const UNITS = [
  "platform",
  "payments",
  "identity",
  "analytics",
  "mobile-apps",
  "data-lake",
  "compliance",
  "web-frontend",
  "infrastructure",
  "customer-care",
  "observability",
] as const;
const ROLES = ["developers", "maintainers", "readers", "approvers", "owners", "on-call"] as const;

function pick<T>(list: readonly T[], index: number): T {
  const value = list[index % list.length];
  if (value === undefined) throw new Error("empty list");
  return value;
}

/**
 * The i-th enterprise group name (i >= 0), e.g.
 * `/acme-corp/emea/engineering/platform/team-000/developers`. About 55 characters;
 * unique for i in 0..999 because of the team number.
 */
function enterpriseGroup(i: number): string {
  const team = `team-${String(i).padStart(3, "0")}`;
  return ["", "acme-corp", pick(REGIONS, i), pick(DEPARTMENTS, i), pick(UNITS, i), team, pick(ROLES, i)].join("/");
}

/** The first `count` enterprise group names (deterministic). */
export function enterpriseGroups(count: number): string[] {
  return Array.from({ length: count }, (_, i) => enterpriseGroup(i));
}

const FIXED_USERS: readonly UserRecord[] = [
  {
    username: "alice",
    password: "alice-password",
    name: "Alice Example",
    givenName: "Alice",
    familyName: "Example",
    email: "alice@example.com",
    groups: ["/staff", "/staff/engineering"],
  },
  {
    username: "erin",
    password: "erin-password",
    name: "Erin Enterprise",
    givenName: "Erin",
    familyName: "Enterprise",
    email: "erin@example.com",
    groups: enterpriseGroups(150),
  },
];

/** The named demo users (for the README, the login page and tests). */
export const DEMO_USERS: readonly DemoUser[] = FIXED_USERS.map((u) => ({
  username: u.username,
  password: u.password,
  name: u.name,
  groupCount: u.groups.length,
}));

const GENERATED_USERNAME = /^groups-(0|[1-9]\d{0,3})$/;

function lookupUser(username: string): UserRecord | undefined {
  const fixed = FIXED_USERS.find((u) => u.username === username);
  if (fixed) return fixed;

  const match = GENERATED_USERNAME.exec(username);
  if (!match?.[1]) return undefined;
  const count = Number(match[1]);
  if (count > MAX_GENERATED_GROUPS) return undefined;
  return {
    username,
    password: `${username}-password`,
    name: `Groups ${count}`,
    givenName: "Groups",
    familyName: String(count),
    email: `${username}@example.com`,
    groups: enterpriseGroups(count),
  };
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Constant-time string comparison (both sides hashed to the same length first). */
function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/**
 * Checks a username/password pair. Returns the account id (the `sub`) on
 * success, or null.
 */
export function authenticate(username: string, password: string): string | null {
  const user = lookupUser(username);
  // Compare even for unknown users so timing does not reveal which usernames exist.
  const expected = user?.password ?? "\u0000no-such-user\u0000";
  const ok = safeEqual(password, expected);
  return user && ok ? user.username : null;
}

/** The standard claims of an account (oidc-provider filters them by granted scope/claims). */
function claimsOf(user: UserRecord): AccountClaims {
  return {
    sub: user.username,
    name: user.name,
    given_name: user.givenName,
    family_name: user.familyName,
    preferred_username: user.username,
    email: user.email,
    email_verified: true,
    groups: [...user.groups],
  };
}

/** oidc-provider `findAccount`: resolves an account by its `sub` (= username). */
export const findAccount: FindAccount = (_ctx, sub) => {
  const user = lookupUser(sub);
  if (!user) return undefined;
  const account: Account = {
    accountId: user.username,
    claims: () => claimsOf(user),
  };
  return account;
};
