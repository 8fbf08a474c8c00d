/* A PAL that claims an API version the runelet does not speak. */
__attribute__((visibility("default"))) int pal_get_version(void) { return 4; }
__attribute__((visibility("default"))) int pal_init(void *attr) { (void)attr; return 0; }
__attribute__((visibility("default"))) int pal_destroy(void) { return 0; }
