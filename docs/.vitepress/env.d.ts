// Vite's client types for the site's code: stylesheet imports, `new URL(…, import.meta.url)` workers.
/// <reference types="vite/client" />
