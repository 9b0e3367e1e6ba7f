// The site's theme: VitePress's default, KaTeX's stylesheet (and fonts) bundled into the build, and the BatchNorm lab's component.
import type { Theme } from "vitepress";
import DefaultTheme from "vitepress/theme";
import "katex/dist/katex.min.css";
import "./lab.css";
import { BatchNormLab } from "./batch-norm-lab.ts";

export default {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component("BatchNormLab", BatchNormLab);
  },
} satisfies Theme;
