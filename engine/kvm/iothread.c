#include "kvm/iothread.h"

struct VivIoThread {
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
};

static gpointer
io_thread_main (gpointer data)
{
  VivIoThread *thread = data;
  g_main_context_push_thread_default (thread->context);
  g_main_loop_run (thread->loop);
  g_main_context_pop_thread_default (thread->context);
  return NULL;
}

VivIoThread *
viv_io_thread_new (const char *name)
{
  VivIoThread *thread = g_new0 (VivIoThread, 1);
  thread->context = g_main_context_new ();
  thread->loop = g_main_loop_new (thread->context, FALSE);
  thread->thread = g_thread_new (name, io_thread_main, thread);
  return thread;
}

GMainContext *
viv_io_thread_context (VivIoThread *thread)
{
  return thread->context;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
viv_io_thread_free (VivIoThread *thread)
{
  if (!thread)
    return;
  /* Quit from inside the loop so a quit before run() cannot be lost. */
  g_main_context_invoke (thread->context, quit_loop, thread->loop);
  g_thread_join (thread->thread);
  g_main_loop_unref (thread->loop);
  g_main_context_unref (thread->context);
  g_free (thread);
}
