// The site's theme: VitePress's default, plus KaTeX's stylesheet (and fonts) bundled into the build.
import DefaultTheme from "vitepress/theme";
import "katex/dist/katex.min.css";

export default DefaultTheme;
