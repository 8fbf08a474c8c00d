/* A PAL that claims version 2 but lacks pal_kill and pal_create_process. */
__attribute__((visibility("default"))) int pal_get_version(void) { return 2; }
__attribute__((visibility("default"))) int pal_init(void *attr) { (void)attr; return 0; }
__attribute__((visibility("default"))) int pal_exec(void *args) { (void)args; return 0; }
__attribute__((visibility("default"))) int pal_destroy(void) { return 0; }
