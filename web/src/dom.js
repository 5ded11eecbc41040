//! Element lookup for the page's static markup (index.html ids).

/** The element with this id. */
export const $ = (id) => document.getElementById(id);
