//! The signed-in user's CipherDropClient, and what sign-out clears (each part of the
//! page registers its own clean-up with `onSignOut`).

let client = null;
const signOutHandlers = [];

/** The CipherDropClient of the signed-in user, or null when signed out. */
export const currentClient = () => client;

export function setClient(c) {
  client = c;
}

/** Runs `fn` on every sign-out (in the order registered). */
export function onSignOut(fn) {
  signOutHandlers.push(fn);
}

export function signOut() {
  for (const fn of signOutHandlers) fn();
}
