//! The CipherDrop page's entry point: sign in, send files (encrypted here), list,
//! download, delete. Each concern is its own module; this one loads them in order,
//! asks before a reload would stop a transfer, and signs in.
import './style.css';
import { uploading } from './uploads.js';
import { downloading } from './downloads.js';
import { start } from './signin.js';

window.addEventListener('beforeunload', (ev) => {
  // Leaving stops uploads and downloads alike (a download is decrypted by this page).
  if (uploading() || downloading()) ev.preventDefault();
});

start();
