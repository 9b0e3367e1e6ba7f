// The `<BatchNormLab />` component of the lab page: mounts the lab on the client only (it needs a worker and canvases).
import { defineComponent, h, onBeforeUnmount, onMounted, ref } from "vue";

/** Mounts `mountLab` into its element after the page hydrates, and stops the lab's worker when the page goes away. */
export const BatchNormLab = defineComponent({
  name: "BatchNormLab",
  setup() {
    const root = ref<HTMLElement | null>(null);
    let stop: (() => void) | undefined;
    let unmounted = false;
    onMounted(async () => {
      const { mountLab } = await import("../lab/browser/lab-view.ts");
      if (!unmounted && root.value !== null) stop = mountLab(root.value);
    });
    onBeforeUnmount(() => {
      unmounted = true;
      stop?.();
    });
    return () => h("div", { ref: root, class: "ng-lab-root" }, "The lab starts once the page's script runs.");
  },
});
