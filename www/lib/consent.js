// Consent and Global Privacy Control. The policy (documented in README.md, "Consent and storage"):
//
//  - The engine always works in memory: recommendations follow the shopper within the page whatever
//    the consent, because nothing ever leaves the device.
//  - 'pending' (the default): nothing is read from or written to storage.
//  - 'granted': the session is restored at load and saved after every change (with a TTL).
//  - 'denied': nothing is stored, and a stored session is deleted.
//  - navigator.globalPrivacyControl === true turns 'granted' into 'denied' for storage: a shopper
//    whose browser sends GPC gets in-memory personalization only, and nothing is ever stored.
//    The page cannot switch this off.

export const CONSENT_STATES = Object.freeze(['granted', 'denied', 'pending']);

export function checkConsent(value) {
  if (!CONSENT_STATES.includes(value)) {
    throw new TypeError(`consent must be 'granted', 'denied' or 'pending', got ${JSON.stringify(value)}`);
  }
  return value;
}

/** True when the browser sends the Global Privacy Control signal. */
export function globalPrivacyControl(nav = globalThis.navigator) {
  try {
    return nav?.globalPrivacyControl === true;
  } catch {
    return false;
  }
}

/** What storage may do: 'granted' (read + write), 'denied' (delete), 'pending' (leave alone). */
export function effectiveConsent(requested, gpc) {
  if (gpc && requested === 'granted') return 'denied';
  return requested;
}
