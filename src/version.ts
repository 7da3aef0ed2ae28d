// The version every part reports; the build stamps it from package.json.
import packageJson from "../package.json" with { type: "json" };

export const VERSION: string = packageJson.version;
