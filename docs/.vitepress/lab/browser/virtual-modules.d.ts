// The module the site's build generates for the lab (mnist-subset-plugin.ts): the URLs of the bundled digits.
declare module "virtual:lab-mnist" {
  const urls: import("../lab-protocol.ts").LabDataUrls;
  export default urls;
}
