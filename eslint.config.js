import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import { importX } from "eslint-plugin-import-x";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

/**
 * The layers of app/, lowest first: a module may import from its own layer
 * and the ones below it, never from one above (docs/decisions/012-layers-and-one-session-owner.md).
 */
const LAYERS = ["platform", "session", "oidc", "auth", "web", "routes"];
const layerZones = LAYERS.slice(0, -1).map((layer, i) => ({
  target: `./app/${layer}`,
  from: LAYERS.slice(i + 1).map((above) => `./app/${above}`),
  message: `app/${layer} is below ${LAYERS.slice(i + 1).join(", ")}: it must not import from them.`,
}));

export default defineConfig(
  {
    ignores: [
      "build/",
      "node_modules/",
      ".cache/",
      "test-results/",
      "redis/data/",
      "test/fixtures/*/build/",
      "test/fixtures/*/.react-router/",
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    plugins: { "react-hooks": reactHooks, "import-x": importX },
    settings: {
      "import-x/extensions": importX.flatConfigs.typescript.settings["import-x/extensions"],
      "import-x/parsers": importX.flatConfigs.typescript.settings["import-x/parsers"],
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })],
    },
    rules: {
      ...reactHooks.configs.recommended.rules,
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      "no-console": "off",
      "import-x/no-cycle": "error",
      "import-x/no-restricted-paths": [
        "error",
        {
          zones: [
            ...layerZones,
            {
              target: "./app",
              from: ["./server", "./scripts", "./test"],
              message: "app/ never imports the server entry, scripts or tests.",
            },
          ],
        },
      ],
    },
  },
);
