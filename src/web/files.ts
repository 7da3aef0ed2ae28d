// The files a node serving the page keeps in its data dir, named once for the node and for `p2p client web`.

/** The page's URL (first line) and the token file's path (second line), written while the page is served. */
export const WEB_ADDRESS_FILE = "web-address";
/** The default token file (0600). */
export const WEB_TOKEN_FILE = "web-token";
